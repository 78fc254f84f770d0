"""Group-bot notifiers: WeCom (企业微信), DingTalk (钉钉) and Feishu (飞书) webhooks.

``config`` -- ``[policies.notifiers]``; ``message`` -- what a bot posts; ``channels`` -- each bot's
request body, signature and answer (with the public documentation each follows); ``delivery`` --
the ``kesu_notify`` implementation and the durable, deduplicated delivery loop; ``plugin`` -- the
built-in plugin that validates the configuration. See docs/notifiers.md.
"""
