"""Django-free IAM Roles Anywhere protocol: signer, verifier, CreateSession client, federation."""
