"""Hot swap: the service follows the registry's `champion` alias, no restart.

Every `hot_swap.interval_seconds` the service asks the registry which version
`champion` points to. When the alias has moved (a retrain promoted a model, or
a rollback), the new version is loaded in a worker thread while the old one
keeps answering, then swapped in with one assignment. Each request uses the
model it started with, so no request fails during the switch.

A version that cannot load keeps the old one serving, and the next check tries
again. A champion whose columns differ from the served one's is not swapped
in: its clients would have to change too, which is a release, not a swap.

The checks are those of the service's first load (serving/loader.py): one
loader loads the champion at start-up, then follows the alias.
"""

from contextlib import AbstractAsyncContextManager

from ..config import Settings
from ..serving.app import Service
from ..serving.loader import follow_champion


def keep_champion_current(
    settings: Settings, service: Service
) -> AbstractAsyncContextManager[None]:
    """A start-up hook of the app: load the champion, then check the alias."""
    return follow_champion(settings, service, settings.hot_swap.interval_seconds)
