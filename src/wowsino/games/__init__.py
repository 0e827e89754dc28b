"""Games: the brand's catalogue, game launches and the seamless wallet aggregators call."""
