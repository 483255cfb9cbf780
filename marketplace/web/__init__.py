"""The shared web shell: layout, static assets, home page, sign-in."""
