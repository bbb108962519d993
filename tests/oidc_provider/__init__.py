"""A small OpenID Connect provider (django-oauth-toolkit) that the single sign-on tests run as
a process of its own: its own settings, URLs and PostgreSQL database."""
