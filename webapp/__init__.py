"""The Sanic web app on :8000: VNPAY IPN and return page, the local VNPAY stand-in, and the
blueprints other parts add (help-center page, chat widget, demo login, agent console).

``webapp.app.create_app(settings)`` builds an app; ``python -m webapp`` serves one.
"""
