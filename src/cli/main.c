// main.c: the vpcast entry point (placeholder until the CLI lands).
#include <stdio.h>
int main(void) { printf("vpcast\n"); return 0; }
