"""Routing: which license center a user goes to, and the hand-off that sends them."""
