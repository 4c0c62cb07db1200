"""Training and evaluation of the ZeDO pose prior on Human3.6M (not shipped with the add-on)."""
