"""Catalogue writes. Each public function owns its transaction."""
