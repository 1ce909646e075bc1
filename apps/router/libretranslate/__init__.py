"""LibreTranslate's API under the router's `/libretranslate/` (a client's base URL is
`http://<host>:8000/libretranslate`): its routes, names, shapes and status codes, answered by the
translation app through its handle like the router's other routes. protocol.py: the bodies and
status codes; fields.py: a request's fields and key; serving.py: the work; the routes are the
Router's (apps/router/app.py). What differs from LibreTranslate: docs/api.md."""
