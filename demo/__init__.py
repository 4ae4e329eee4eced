"""Demo data: the deterministic demo city (`manage.py generate_demo`) and the demo logins
(`manage.py seed_demo_users`). Above every domain app: it uses their models, services and
selectors and healthnet/bulk.py; no domain app imports it."""
