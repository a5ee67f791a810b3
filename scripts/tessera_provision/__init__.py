"""Tessera provisioning helpers; see scripts/provision.py."""
