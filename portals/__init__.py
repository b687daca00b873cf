"""The portals: thin handlers over app/<domain>, one blueprint each."""
from flask import Flask


def register(app: Flask) -> None:
    from portals.api.routes import bp as api
    from portals.auth.routes import bp as auth
    from portals.dealer.routes import bp as dealer
    from portals.files.routes import bp as files
    from portals.hospital.routes import bp as hospital
    from portals.manufacturer.routes import bp as manufacturer
    from portals.platform.routes import bp as platform

    for bp in (platform, auth, manufacturer, dealer, hospital, files, api):
        app.register_blueprint(bp)
