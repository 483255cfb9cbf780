"""Clip exclusions are stored in one order (start, end, reason) and once each, as the manifest reader now writes
them: stored assets are brought to that form, so that re-uploading an unchanged file reports them unchanged."""

from decimal import Decimal

from django.db import migrations


def canonical(exclusions: list[dict]) -> list[dict]:
    unique = {(x["start"], x["end"], x["reason"]): x for x in exclusions}
    return sorted(unique.values(), key=lambda x: (Decimal(x["start"]), Decimal(x["end"]), x["reason"]))


def reorder(apps, schema_editor) -> None:
    Asset = apps.get_model("catalog", "Asset")
    changed = []
    for asset in Asset.objects.exclude(clip_exclusions=[]).only("pk", "clip_exclusions").iterator(chunk_size=2000):
        ordered = canonical(asset.clip_exclusions)
        if ordered != asset.clip_exclusions:
            asset.clip_exclusions = ordered
            changed.append(asset)
        if len(changed) >= 2000:
            Asset.objects.bulk_update(changed, ["clip_exclusions"])
            changed = []
    Asset.objects.bulk_update(changed, ["clip_exclusions"])


class Migration(migrations.Migration):
    dependencies = [("catalog", "0016_manifest_row_kept")]

    operations = [migrations.RunPython(reorder, migrations.RunPython.noop, elidable=True)]
