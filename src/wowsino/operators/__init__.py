"""Operators: the people who sign in to the console for a tenant, with a role."""
