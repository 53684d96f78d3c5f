"""Static CSS and JavaScript inlined into every archive page (a package so they ship as package data)."""
