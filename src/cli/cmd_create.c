#include "cli/commands.h"
int cmd_create(int argc, char **argv) { (void)argc; (void)argv; return 1; }
