from django.urls import path

from marketplace.catalog import public_views, views

app_name = "catalog"
org = "o/<slug:org_slug>/"
urlpatterns = [
    path("catalogue/", public_views.catalogue, name="public_list"),
    path("manifest-format/", public_views.manifest_format, name="manifest_format"),
    path("catalogue/<slug:slug>/", public_views.corpus_page, name="public_corpus"),
    path("previews/<int:preview_id>/", public_views.preview_file, name="preview_file"),
    path(f"{org}corpora/", views.corpus_list, name="corpus_list"),
    path(f"{org}corpora/new/", views.corpus_create, name="corpus_create"),
    path(f"{org}corpora/<int:corpus_id>/", views.corpus_detail, name="corpus"),
    path(f"{org}corpora/<int:corpus_id>/edit/", views.corpus_edit, name="corpus_edit"),
    path(f"{org}corpora/<int:corpus_id>/submit/", views.corpus_submit, name="corpus_submit"),
    path(
        f"{org}corpora/<int:corpus_id>/changes/withdraw/",
        views.corpus_changes_withdraw,
        name="corpus_changes_withdraw",
    ),
    path(f"{org}corpora/<int:corpus_id>/withdraw/", views.corpus_withdraw, name="corpus_withdraw"),
    path(f"{org}corpora/<int:corpus_id>/previews/", views.preview_upload, name="preview_upload"),
    path(
        f"{org}corpora/<int:corpus_id>/previews/<int:preview_id>/remove/", views.preview_remove, name="preview_remove"
    ),
    path(f"{org}corpora/<int:corpus_id>/assets/", views.asset_list, name="assets"),
    path(f"{org}corpora/<int:corpus_id>/assets/withdraw/", views.assets_withdraw, name="assets_withdraw"),
    path(
        f"{org}corpora/<int:corpus_id>/assets/withdraw-listed/",
        views.assets_withdraw_listed,
        name="assets_withdraw_listed",
    ),
    path(
        f"{org}corpora/<int:corpus_id>/assets/withdraw-expired/",
        views.assets_withdraw_expired,
        name="assets_withdraw_expired",
    ),
    path(f"{org}corpora/<int:corpus_id>/assets/<int:asset_id>/", views.asset_detail, name="asset"),
    path(f"{org}corpora/<int:corpus_id>/imports/", views.import_list, name="imports"),
    path(f"{org}corpora/<int:corpus_id>/imports/new/", views.import_create, name="import_create"),
    path(f"{org}corpora/<int:corpus_id>/offers/new/", views.offer_edit, name="offer_create"),
    path(f"{org}corpora/<int:corpus_id>/offers/preview/", views.offer_preview, name="offer_preview"),
    path(f"{org}imports/<int:import_id>/", views.import_detail, name="import"),
    path(f"{org}imports/<int:import_id>/status.json", views.import_status, name="import_status"),
    path(f"{org}imports/<int:import_id>/errors.csv", views.import_errors_csv, name="import_errors_csv"),
    path(f"{org}imports/<int:import_id>/missing.csv", views.import_missing_csv, name="import_missing_csv"),
    path(
        f"{org}imports/<int:import_id>/added.csv", views.import_assets_csv, {"kind": "added"}, name="import_added_csv"
    ),
    path(
        f"{org}imports/<int:import_id>/changed.csv",
        views.import_assets_csv,
        {"kind": "changed"},
        name="import_changed_csv",
    ),
    path(
        f"{org}imports/<int:import_id>/withdraw-missing/", views.import_withdraw_missing, name="import_withdraw_missing"
    ),
    path(f"{org}offers/<int:offer_id>/edit/", views.offer_edit, name="offer_edit"),
    path(f"{org}offers/<int:offer_id>/publish/", views.offer_publish, name="offer_publish"),
    path(f"{org}offers/<int:offer_id>/archive/", views.offer_archive, name="offer_archive"),
    path(f"{org}withdrawals/", views.withdrawal_list, name="withdrawals"),
    path(f"{org}withdrawals/<int:withdrawal_id>/assets.csv", views.withdrawal_assets_csv, name="withdrawal_assets_csv"),
    path(f"{org}review/", views.review_queue, name="review_queue"),
    path(f"{org}review/<int:corpus_id>/", views.review_detail, name="review"),
]
