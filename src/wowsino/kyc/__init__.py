"""KYC verification with a vendor: a brand's KYC adapter (``config``), verification
sessions started by an operator or the player (``sessions``), and the vendor's signed
decisions (``callbacks``, ``decisions``), ordered by the vendor's time and applied once.
Manual decisions stay in ``compliance.kyc``; docs/kyc.md tells the whole flow."""
