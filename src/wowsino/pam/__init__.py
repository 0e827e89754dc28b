"""Player account management (white-label): registration, login, player sessions and
the player's own API under ``/v1/player``."""
