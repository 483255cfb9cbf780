from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("catalog", "0022_withdrawal_listed_scope")]

    operations = [
        migrations.AddField(
            model_name="corpus",
            name="first_rights_expiry",
            field=models.DateField(blank=True, null=True),
        ),
        migrations.RunSQL(
            "UPDATE catalog_corpus SET first_rights_expiry = (SELECT min(a.rights_expiry) FROM catalog_asset a"
            " WHERE a.corpus_id = catalog_corpus.id AND a.status = 'active')",
            migrations.RunSQL.noop,
        ),
    ]
