"""Real SpyGlass servers and throwaway databases, launched for the tests and the benchmark."""
