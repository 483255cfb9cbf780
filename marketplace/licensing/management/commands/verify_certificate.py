"""Verify a licence certificate offline (the same check a court or regulator can run with verifier.py)."""

import json

from django.core.management.base import BaseCommand, CommandError

from marketplace.licensing import verifier


class Command(BaseCommand):
    help = "Check a certificate's signature and validity, and optionally that a file is covered."

    def add_arguments(self, parser):
        parser.add_argument("certificate")
        parser.add_argument("--keys", required=True, help="the issuer's published keys (JWKS JSON file)")
        parser.add_argument("--proof", help="inclusion proof JSON")
        parser.add_argument("--sha256", help="the file's SHA-256")
        parser.add_argument("--file", help="the file itself")

    def handle(self, *args, certificate, keys, proof=None, sha256=None, file=None, **options):
        try:
            with open(certificate) as fh:
                document = json.load(fh)
            with open(keys) as fh:
                public = verifier.public_keys_from_jwks(json.load(fh))
            proof_doc = None
            if proof:
                with open(proof) as fh:
                    proof_doc = json.load(fh)
        except (OSError, json.JSONDecodeError) as exc:
            raise CommandError(f"cannot read input: {exc}") from None
        digest = sha256 or (verifier._sha256_file(file) if file else None)
        result = verifier.verify(document, public, file_sha256=digest, proof=proof_doc)
        if not result.valid:
            raise CommandError(str(result))
        self.stdout.write("valid")
