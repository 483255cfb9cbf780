"""Certificates of lawful sourcing, checked offline by the standalone verifier."""

import copy
import datetime as dt
import io
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command

from marketplace.catalog.models import Asset
from marketplace.catalog.services import withdrawals
from marketplace.licensing import verifier
from tests.fixtures.api import buy
from tests.fixtures.market import sha


@pytest.fixture
def licensed(market, buyer):
    _, api = buyer
    order = buy(api, market["flat"])
    licence_id = order["licence"]
    certificate = api.get(f"/api/v1/licences/{licence_id}/certificate/").json()
    keys = verifier.public_keys_from_jwks(api.get("/.well-known/clearframe-keys.json").json())
    return {"api": api, "licence": licence_id, "certificate": certificate, "keys": keys}


def proof(licensed, digest, **params):
    return licensed["api"].get(f"/api/v1/licences/{licensed['licence']}/proof/", {"sha256": digest, **params})


def test_certificate_states_the_licence_and_verifies(licensed, buyer):
    access, _ = buyer
    body = licensed["certificate"]["certificate"]
    assert body["licence_id"] == licensed["licence"]
    assert body["licensee"] == {"id": "org:lumen", "name": access.organisation.name}
    assert body["merkle"]["leaves"] == 5
    assert len(body["terms_hash"]) == 64
    result = verifier.verify(licensed["certificate"], licensed["keys"])
    assert result.valid, result.problems
    assert str(result) == "valid"


def test_every_licensed_file_has_a_proof_and_others_do_not(licensed):
    for i in range(5):
        response = proof(licensed, sha(f"m{i}"))
        assert response.status_code == 200
        result = verifier.verify(
            licensed["certificate"], licensed["keys"], file_sha256=sha(f"m{i}"), proof=response.json()
        )
        assert result.valid, result.problems
    missing = proof(licensed, sha("not-licensed"))
    assert missing.status_code == 404
    assert "does not cover a file" in missing.json()["detail"]
    assert proof(licensed, "xyz").status_code == 400


def test_tampered_certificate_is_refused(licensed):
    tampered = copy.deepcopy(licensed["certificate"])
    tampered["certificate"]["licensee"]["name"] = "Someone Else"
    result = verifier.verify(tampered, licensed["keys"])
    assert not result.valid
    assert "the signature does not match" in result.problems[0]


def test_a_key_that_did_not_sign_it_is_refused(licensed):
    stranger = Ed25519PrivateKey.generate().public_key()
    kid = licensed["certificate"]["signature"]["kid"]
    assert "the signature does not match" in verifier.verify(licensed["certificate"], {kid: stranger}).problems[0]
    assert "not among the given public keys" in verifier.verify(licensed["certificate"], {}).problems[0]


def test_forged_proofs_are_refused(licensed):
    genuine = proof(licensed, sha("m1")).json()
    forged = copy.deepcopy(genuine)
    forged["path"][0]["hash"] = "00" * 32
    result = verifier.verify(licensed["certificate"], licensed["keys"], file_sha256=sha("m1"), proof=forged)
    assert "does not lead to the certificate's Merkle root" in result.problems[0]
    # A genuine proof presented for another file.
    result = verifier.verify(licensed["certificate"], licensed["keys"], file_sha256=sha("other"), proof=genuine)
    assert result.problems == ["the proof is for another file"]


def test_an_expired_licence_is_named(licensed):
    later = dt.datetime.fromisoformat(
        licensed["certificate"]["certificate"]["valid_until"].replace("Z", "+00:00")
    ) + dt.timedelta(days=1)
    result = verifier.verify(licensed["certificate"], licensed["keys"], at=later)
    assert result.problems == [f"the licence expired on {licensed['certificate']['certificate']['valid_until']}"]


def test_withdrawal_reissues_the_certificate_without_the_file(licensor, market, licensed):
    from marketplace.webhooks.services import events_dispatch

    asset = Asset.objects.get(external_id="m2")
    withdrawals.assets_withdraw(access=licensor, corpus=market["corpus"], asset_ids=[asset.pk], reason="Music claim")
    events_dispatch()
    api = licensed["api"]
    latest = api.get(f"/api/v1/licences/{licensed['licence']}/certificate/").json()
    assert (latest["certificate"]["version"], latest["certificate"]["merkle"]["leaves"]) == (2, 4)
    assert verifier.verify(latest, licensed["keys"]).valid
    assert proof(licensed, sha("m2")).status_code == 404
    # The first version still proves what it covered.
    old = proof(licensed, sha("m2"), version=1)
    assert old.status_code == 200
    assert verifier.verify(licensed["certificate"], licensed["keys"], file_sha256=sha("m2"), proof=old.json()).valid


def test_the_verifier_command_and_the_standalone_module(licensed, tmp_path):
    cert = tmp_path / "certificate.json"
    cert.write_text(json.dumps(licensed["certificate"]))
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(licensed["api"].get("/.well-known/clearframe-keys.json").json()))
    prf = tmp_path / "proof.json"
    prf.write_text(json.dumps(proof(licensed, sha("m3")).json()))
    out = io.StringIO()
    call_command(
        "verify_certificate", str(cert), "--keys", str(keys), "--proof", str(prf), "--sha256", sha("m3"), stdout=out
    )
    assert out.getvalue().strip() == "valid"
    with pytest.raises(CommandError, match="the proof is for another file"):
        call_command(
            "verify_certificate",
            str(cert),
            "--keys",
            str(keys),
            "--proof",
            str(prf),
            "--sha256",
            sha("m1"),
            stdout=io.StringIO(),
        )
    # The module runs on its own, needing only cryptography.
    import subprocess
    import sys
    from pathlib import Path

    module = Path(verifier.__file__)
    standalone = tmp_path / "verify.py"
    standalone.write_text(module.read_text())
    run = subprocess.run(
        [
            sys.executable,
            "-I",
            str(standalone),
            str(cert),
            "--keys",
            str(keys),
            "--proof",
            str(prf),
            "--sha256",
            sha("m3"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert (run.returncode, run.stdout.strip()) == (0, "valid")


def test_published_keys_support_rotation(settings, tmp_path, licensed):
    from marketplace.licensing import signing

    old = settings.CERTIFICATE_SIGNING_KEY_FILES[0]
    settings.CERTIFICATE_SIGNING_KEY_FILES = [str(tmp_path / "new.pem"), old]
    signing.signing_keys.cache_clear()
    try:
        published = licensed["api"].get("/.well-known/clearframe-keys.json").json()["keys"]
        assert [k["status"] for k in published] == ["active", "retired"]
        keys = verifier.public_keys_from_jwks({"keys": published})
        assert verifier.verify(licensed["certificate"], keys).valid  # signed before the rotation
    finally:
        settings.CERTIFICATE_SIGNING_KEY_FILES = [old]
        signing.signing_keys.cache_clear()
