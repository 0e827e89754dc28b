"""Stand-ins for the outside services a white-label brand talks to, speaking HTTP like the
real ones: ``wowsino sandbox psp`` (a PSP) and ``wowsino sandbox games`` (a game
aggregator)."""
