/*
 * The portcullis command: dispatches to its subcommands.
 */
#include <stdio.h>
#include <string.h>

int
main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("portcullis %s (%s)\n", PC_VERSION, PC_GIT_REV);
        return 0;
    }
    fprintf(stderr, "usage: portcullis run -c FILE\n");
    return 2;
}
