"""The platform simulated: discrete events on simulated time, sharing the platform's scaling
and keep-alive code (:mod:`.engine`), with times drawn from measured archives (:mod:`.fit`),
fed by traces (:mod:`.trace`) to compare keep-alive policies at scale (:mod:`.scale`)."""
