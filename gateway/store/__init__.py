"""The store: database, tables, migrations, and the rows every part of the gateway shares."""
