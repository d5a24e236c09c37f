"""The embedded demo (`manage.py demo`, `manage.py sandbox`): the top floor, above every app."""
