"""External ids are stored in Unicode NFC (manifest.external_id_key). Ids stored before in another form are
converted, in the assets and in the current listings, unless the converted id is taken already: two such assets
were one video listed twice, which only the licensor can sort out, and they stay as they were."""

import unicodedata

from django.db import migrations

_NOT_ASCII = r"[^\x01-\x7f]"  # NFC changes nothing else


def ids_to_nfc(apps, schema_editor) -> None:
    for model, scope in (("Asset", "corpus_id"), ("ManifestRow", "manifest_import_id")):
        rows = apps.get_model("catalog", model).objects
        # Read whole before the updates (SQLite does not promise a cursor sees its table change consistently).
        for pk, owner, external_id in list(
            rows.filter(external_id__regex=_NOT_ASCII).values_list("pk", scope, "external_id")
        ):
            key = unicodedata.normalize("NFC", external_id)
            if key != external_id and not rows.filter(**{scope: owner, "external_id": key}).exists():
                rows.filter(pk=pk).update(external_id=key)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0023_corpus_first_rights_expiry")]

    operations = [migrations.RunPython(ids_to_nfc, migrations.RunPython.noop)]
