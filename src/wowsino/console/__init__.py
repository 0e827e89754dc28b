"""The operator console at ``/admin``: server-rendered pages over the domain services."""
