"""The control room: a web page for the volunteers on the night, served by ``talkcast live``.

It lives on the live API's port, beside ``/api/...``::

    GET  /room                   the page (without a session: how to log in)
    GET  /room/login?code=...    spend a one-time login code, set the session cookie, go to /room
    GET  /room/events            server-sent events: the page's view model whenever it changes
    POST /room/actions/{action}  an action, as the terminal keys do (session + CSRF header)
    POST /room/logout            end this browser's session
    GET  /room/preview.jpg       a small screenshot of the programme scene (at most 1 per second)
    GET  /room/static/{file}     the page's CSS and JavaScript, served from the package

Logins, sessions, CSRF and Origin checks are the kernel's ``talkcast.webauth``, shared
with the review page. Modules: ``gate`` (those checks over HTTP: the login link, the
session cookie, page rendering; shared with ``talkcast rooms``' overview,
``streamer.overview``), ``view`` (the view model from ``/api/state``'s JSON: pure),
``preview`` (the screenshot, through the controller's one OBS connection), ``terminal``
(the login link as a QR code), ``web`` (the thin aiohttp handlers), ``assets`` (Jinja2
templates, CSS, JavaScript).
"""
