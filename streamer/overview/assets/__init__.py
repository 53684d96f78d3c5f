"""The overview's Jinja2 templates, CSS and JavaScript (a package so they ship as package data)."""
