/*
 * Loader test fixture: an ordinary shared object that exports neither sluice_plugin_abi
 * nor sluice_plugin_stages; the loader must call it "not a Sluice plugin" without opening
 * it. Built only for tests.
 */
__attribute__((visibility("default"))) int no_symbols_answer(void)
{
	return 42;
}
