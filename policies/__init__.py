"""Built-in policy plugins: one module per rule family of POLICY_SPEC.md.

Each is an ordinary pluggy plugin (``@hookimpl`` functions), registered by
``plugins.manager.build_plugin_manager`` exactly like an installed third-party plugin.
"""
