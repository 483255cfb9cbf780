from django.apps import AppConfig


class RatingConfig(AppConfig):
    name = "marketplace.rating"
    label = "rating"
    verbose_name = "Rating"
