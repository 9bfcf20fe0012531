"""VideoSearcher's serverless functions and the runtime (watchdog) they run in."""
