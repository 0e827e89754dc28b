"""The white-label wallet: deposits through the brand's PSP, withdrawals with approval
and payouts, PSP callbacks, and the player's transactions (docs/white-label.md)."""
