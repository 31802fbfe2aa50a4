"""Small internal helpers shared by several packages."""
