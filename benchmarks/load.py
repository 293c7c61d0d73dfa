"""Locust in library mode: offered load in steps against the orders API; prints JSON.

    python -m benchmarks.load --host http://127.0.0.1:8080 --rates 5,10,20 --seconds 10

Run in a process of its own (benchmarks/capacity.py starts it): importing locust
monkey-patches the standard library for gevent, which the local cloud's threads and
processes must not see. Each step runs ``rate / PER_USER_RATE`` users, each POSTing one
new order at most ``PER_USER_RATE`` times a second (closed loop: a user waits for its
answer, so a saturated system is offered less than asked, and the step shows it).
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from typing import Any

import gevent
from locust import FastHttpUser, constant_throughput, task
from locust.env import Environment

PER_USER_RATE = 2.0  # requests per second per simulated client
API = "/lambda/api"


class OrderPoster(FastHttpUser):
    wait_time = constant_throughput(PER_USER_RATE)

    @task
    def post_order(self) -> None:
        body = {"order_id": uuid.uuid4().hex, "item": "Kopi Susu", "qty": 2}
        with self.client.post(API, json=body, catch_response=True) as answer:
            if answer.status_code != 202:
                answer.failure(f"HTTP {answer.status_code}")


def run(host: str, rates: list[float], seconds: float) -> list[dict[str, Any]]:
    environment = Environment(user_classes=[OrderPoster], host=host)
    runner = environment.create_local_runner()
    steps = []
    for rate in rates:
        users = max(1, round(rate / PER_USER_RATE))
        runner.start(users, spawn_rate=max(users, 1) * 20)
        gevent.sleep(0.5)  # let the users start before counting
        environment.stats.reset_all()
        started = time.time()
        gevent.sleep(seconds)
        ended = time.time()
        total = environment.stats.total
        steps.append(
            {
                "offered": rate,
                "users": users,
                "started": started,
                "ended": ended,
                "requests": total.num_requests,
                "failures": total.num_failures,
                "p50_ms": total.get_response_time_percentile(0.5) or 0,
                "p99_ms": total.get_response_time_percentile(0.99) or 0,
            }
        )
    runner.quit()
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--rates", required=True, help="offered requests/s per step, a,b,c")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    rates = [float(rate) for rate in args.rates.split(",")]
    print(json.dumps(run(args.host, rates, args.seconds)))


if __name__ == "__main__":
    main()
