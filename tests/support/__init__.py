"""What the tests share: real servers started and stopped (Redis, the GCS emulator,
containers), fault injection, the reference tables and an independent oracle."""
