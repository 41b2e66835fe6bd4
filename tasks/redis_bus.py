"""`RedisBus`: the bus across workers and hosts, on Redis pub/sub.

Why pub/sub and not Streams: every event a subscriber could miss is durable in
the store before it is published (the runner commits, then publishes), so the
bus only has to be fast and to say when it may have dropped something. Pub/sub
gives sub-millisecond fan-out with no trimming or consumer bookkeeping; a
dropped connection marks every local subscriber overflowed, and streams resync
from the store, losing nothing durable. Progress ticks are not durable: a
watcher that was cut off gets the newest progress in its resync snapshot.

Layout: one channel per topic (`<prefix>:ev:<topic>`), subscribed while some
local stream watches it; one command channel per worker and one for all.
Events published here reach this worker's own subscribers at once, without the
round trip; their echo from Redis is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from tasks.bus import Command, CommandHandler, LocalDispatch, Reply, Subscription
from tasks.events import TaskEvent

log = logging.getLogger("spyglass.bus")

MAX_PENDING_SENDS = 100_000
SUBSCRIBE_CONFIRM_SECONDS = 2.0


async def _redis_call(result: Awaitable[Any] | Any) -> Any:
    """redis-py types its commands as sync-or-async; on redis.asyncio they are awaitable."""
    return await result if inspect.isawaitable(result) else result


def _channel_name(message: dict[str, Any]) -> str:
    raw = message.get("channel") or b""
    return raw.decode() if isinstance(raw, bytes) else str(raw)


async def announce(redis_url: str, prefix: str, command: Command) -> None:
    """Tells every worker of a deployment, from outside it (the CLI)."""
    redis = Redis.from_url(redis_url, socket_connect_timeout=3, socket_timeout=5)
    try:
        payload = json.dumps({"w": "cli", "c": command.model_dump(mode="json")})
        await _redis_call(redis.publish(f"{prefix}:cmd:all", payload))
    finally:
        await redis.aclose()


class RedisBus:
    shared = True

    def __init__(self, redis: Redis, prefix: str, worker_id: str, max_queue: int = 10_000) -> None:
        self.redis = redis
        self.prefix = prefix
        self.worker_id = worker_id
        self._event_head = f'{{"w":{json.dumps(worker_id)},"e":'  # an event message: {"w": sender, "e": event}
        self.local = LocalDispatch(max_queue)
        self._handler: CommandHandler | None = None
        self._refs: Counter[str] = Counter()  # channel -> local subscriptions
        self._confirms: dict[str, list[asyncio.Future[None]]] = {}
        self._replies: dict[str, asyncio.Future[Reply]] = {}
        self._sends: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._dropped_sends = False
        self._pubsub: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._connected = asyncio.Event()

    # -- channels -----------------------------------------------------------

    def _event_channel(self, topic: str) -> str:
        return f"{self.prefix}:ev:{topic}"

    def _command_channel(self, worker_id: str) -> str:
        return f"{self.prefix}:cmd:{worker_id}"

    @property
    def _all_channel(self) -> str:
        return f"{self.prefix}:cmd:all"

    # -- lifecycle ----------------------------------------------------------

    async def start(self) -> None:
        await _redis_call(self.redis.ping())  # fail fast with a clear error if Redis is not there
        self._tasks = [
            asyncio.create_task(self._receive_loop(), name="spyglass-bus-receive"),
            asyncio.create_task(self._send_loop(), name="spyglass-bus-send"),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), 5)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
            self._pubsub = None
        self.local.subscribers.clear()
        await self.redis.aclose()

    async def ping(self) -> None:
        await _redis_call(self.redis.ping())
        if not self._connected.is_set():
            raise ConnectionError("the bus is reconnecting to Redis")

    # -- events -------------------------------------------------------------

    def heard(self, topics: Sequence[str]) -> bool:
        return True  # a watcher on another worker cannot be seen from here

    def publish(self, event: TaskEvent, topics: Sequence[str]) -> None:
        self.local.deliver(event, topics)
        # pydantic's serialiser: a third of the time of json.dumps on a dumped dict
        payload = f"{self._event_head}{event.model_dump_json()}}}"
        for topic in topics:
            if self._sends.qsize() >= MAX_PENDING_SENDS:
                self._dropped_sends = True  # told to every worker once Redis answers again
                return
            self._sends.put_nowait((self._event_channel(topic), payload))

    async def _send_loop(self) -> None:
        """One sender, so events leave in publish order; batched in pipelines."""
        batch: list[tuple[str, str]] = []
        while True:
            if not batch:
                batch.append(await self._sends.get())
                while not self._sends.empty() and len(batch) < 1000:
                    batch.append(self._sends.get_nowait())
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for channel, payload in batch:
                        pipe.publish(channel, payload)
                    await pipe.execute()
                batch = []
                if self._dropped_sends:
                    self._dropped_sends = False
                    await self.broadcast(Command(kind="resync"))
            except (RedisError, OSError) as exc:
                log.warning("publishing to Redis failed (%s); retrying", exc)
                await asyncio.sleep(0.5)

    @contextlib.asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[Subscription]:
        channel = self._event_channel(topic)
        sub = self.local.add(topic)
        self._refs[channel] += 1
        try:
            if self._refs[channel] == 1 or channel in self._confirms:
                await self._confirm_subscribed(channel, sub)
            yield sub
        finally:
            self.local.remove(sub)
            self._refs[channel] -= 1
            if self._refs[channel] <= 0:
                del self._refs[channel]
                self._spawn(self._unsubscribe(channel))

    async def _confirm_subscribed(self, channel: str, sub: Subscription) -> None:
        """Waits until Redis confirms the channel, so nothing published after this
        returns is missed. If Redis is slow or away, the subscription is marked to
        resync once the channel is confirmed."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        first = channel not in self._confirms
        self._confirms.setdefault(channel, []).append(waiter)
        if first and self._pubsub is not None:
            # Also while reconnecting: the reconnect may have listed its channels
            # before this one was added (a repeated SUBSCRIBE is harmless).
            try:
                await self._pubsub.subscribe(channel)
            except Exception as exc:  # redis-py raises more than RedisError on a broken connection
                log.warning("subscribing to %s failed (%s); it is subscribed when the bus reconnects", channel, exc)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), SUBSCRIBE_CONFIRM_SECONDS)
        except TimeoutError:
            sub.mark_overflowed()
            waiter.add_done_callback(lambda _: sub.mark_overflowed())

    async def _unsubscribe(self, channel: str) -> None:
        if channel in self._refs or self._pubsub is None:
            return
        with contextlib.suppress(Exception):
            await self._pubsub.unsubscribe(channel)

    # -- receiving ----------------------------------------------------------

    async def _receive_loop(self) -> None:
        backoff = 0.1
        reconnecting = False
        while True:
            try:
                pubsub = self.redis.pubsub()
                channels = [self._command_channel(self.worker_id), self._all_channel, *self._refs]
                await pubsub.subscribe(*channels)
                self._pubsub = pubsub
                unconfirmed = set(channels)
                while unconfirmed:  # Redis confirms each channel in order
                    message = await pubsub.get_message(timeout=SUBSCRIBE_CONFIRM_SECONDS)
                    if message is None:
                        raise ConnectionError("Redis did not confirm the subscriptions")
                    if message.get("type") == "subscribe":
                        unconfirmed.discard(_channel_name(message))
                    self._on_message(message)
                missed = [channel for channel in self._refs if channel not in channels]
                if missed:  # watched since the list above was made
                    await pubsub.subscribe(*missed)
                self._connected.set()
                backoff = 0.1
                if reconnecting:
                    # Subscribed again: whatever was published while away is in the store.
                    self.local.overflow_all()
                    log.info("Redis bus reconnected; open streams resync from the store")
                reconnecting = True
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._on_message(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("lost the Redis bus connection (%s); reconnecting", exc)
            self._connected.clear()
            self.local.overflow_all()  # events may have been missed: every stream resyncs
            for waiter in self._replies.values():
                if not waiter.done():
                    waiter.set_exception(ConnectionError("the Redis bus connection dropped"))
            if self._pubsub is not None:
                with contextlib.suppress(Exception):
                    await self._pubsub.aclose()
                self._pubsub = None
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    def _on_message(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        channel = _channel_name(message)
        if kind == "subscribe":
            for confirm in self._confirms.pop(channel, []):
                if not confirm.done():
                    confirm.set_result(None)
            return
        if kind != "message":
            return
        try:
            body = json.loads(message["data"])
        except (TypeError, ValueError):
            log.warning("ignoring a malformed bus message on %s", channel)
            return
        if body.get("w") == self.worker_id:
            return  # our own event: already delivered locally
        if "e" in body:
            topic = channel.removeprefix(f"{self.prefix}:ev:")
            self.local.deliver(TaskEvent.model_validate(body["e"]), (topic,))
        elif "re" in body:
            reply_waiter = self._replies.pop(str(body["re"]), None)
            if reply_waiter is not None and not reply_waiter.done():
                reply_waiter.set_result(Reply.model_validate(body["reply"]))
        elif "c" in body:
            self._spawn(self._answer(body))

    async def _answer(self, body: dict[str, Any]) -> None:
        command = Command.model_validate(body["c"])
        reply = await self._handle(command)
        if "r" in body:
            payload = json.dumps({"w": self.worker_id, "re": body["r"], "reply": reply.model_dump()})
            with contextlib.suppress(RedisError, OSError):
                await self.redis.publish(self._command_channel(body["w"]), payload)

    async def _handle(self, command: Command) -> Reply:
        if command.kind == "resync":
            self.local.overflow_all()
            return Reply(ok=True)
        if self._handler is None:
            return Reply(ok=False, detail="this worker is not ready")
        try:
            return await self._handler(command)
        except Exception as exc:
            log.exception("command %s failed", command.kind)
            return Reply(ok=False, detail=str(exc))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- commands -----------------------------------------------------------

    def on_command(self, handler: CommandHandler) -> None:
        self._handler = handler

    async def request(self, worker_id: str, command: Command, timeout: float = 2.0) -> Reply | None:
        if worker_id == self.worker_id:
            return await self._handle(command)
        request_id = secrets.token_hex(8)
        waiter: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._replies[request_id] = waiter
        payload = json.dumps({"w": self.worker_id, "r": request_id, "c": command.model_dump(mode="json")})
        try:
            if await self.redis.publish(self._command_channel(worker_id), payload) == 0:
                return None  # nobody listens on that worker's channel: it is gone
            return await asyncio.wait_for(waiter, timeout)
        except (TimeoutError, RedisError, OSError):  # ConnectionError is an OSError
            return None
        finally:
            self._replies.pop(request_id, None)

    async def broadcast(self, command: Command) -> None:
        await self._handle(command)
        payload = json.dumps({"w": self.worker_id, "c": command.model_dump(mode="json")})
        try:
            await self.redis.publish(self._all_channel, payload)
        except (RedisError, OSError) as exc:
            log.warning("could not broadcast %s (%s)", command.kind, exc)
