"""The worker's garbage collector, set for a server that holds many open streams.

With Python's defaults (a young collection every 700 allocations), a burst of
sends to a thousand watchers promotes the objects still in flight at each young
collection; they pile up until a full collection, which scanned every object the
app had made and stalled the event loop for 20-70 ms: that was the slowest
percent of fan-out deliveries (bench.run, (d)). So the objects alive once the
worker has started (Reflex's compiled app, the registry, settings) are frozen out
of collections, and young collections run every 50,000 allocations."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator

THRESHOLDS = (50_000, 20, 100)


@contextlib.asynccontextmanager
async def tuned_gc() -> AsyncIterator[None]:
    previous = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()
