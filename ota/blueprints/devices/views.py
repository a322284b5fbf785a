"""Views of the devices blueprint."""
from flask import render_template

from ota.blueprints.devices import bp


@bp.get("/products")
def products():
    """List the account's products."""
    return render_template("devices/products.html")
