"""Evidence Archive (创文资料档案). `create_app()` is the web entry point; nothing else runs at import."""


def create_app(test_config: dict | None = None):
    from .web import create_app as _create_app

    return _create_app(test_config)
