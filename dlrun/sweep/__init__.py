"""`dlrun sweep`: a grid of config values times seeds, each member a `dlrun train` process."""
