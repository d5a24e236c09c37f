"""Django-free access engine: label matching, trait templates, role specs and decisions."""
