"""``talkcast rooms``: one page that shows every room of a conference, each run by its own ``talkcast live``.

It reads the rooms file (``roomsfile``: each room's name, live API URL and token), looks
at every room's ``/api/state`` each second, and serves::

    GET  /rooms                  the overview (without a session: how to log in)
    GET  /rooms/login?code=...   spend a one-time login code, set the session cookie, go to /rooms
    GET  /rooms/events           server-sent events: the page's view model whenever it changes
    POST /rooms/open             form fields room, csrf: ask that room for a one-time control
                                 room link (with its token) and send the browser there (303)
    GET  /rooms/static/{file}    the page's CSS and JavaScript, served from the package

The rooms' tokens stay on the server: the browser only ever sees a room's one-time link.

Modules: ``roomsfile`` (the rooms file: parse, write, register), ``view`` (each room's
card from its state: pure), ``watch`` (the overview's one HTTP client towards the rooms),
``web`` (the thin aiohttp handlers, behind the control room's login ``Gate``), ``serve``
(the command: server, terminal banner, shutdown), ``assets`` (templates, CSS, JavaScript;
``base.html`` and ``room.css`` are the control room's).
"""
