/*
 * promlet: scrape Prometheus targets and forward samples over remote
 * write, with a write-ahead log in between. main() parses flags,
 * dispatches subcommands and wires the stages together.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct main_flags {
	const char	*config_file;
	const char	*storage_path;
	const char	*listen_address;
	const char	*log_level;
	const char	*log_format;
};

static void
main_usage(FILE *f)
{
	fprintf(f,
"usage: promlet [flags]\n"
"       promlet check config FILE...\n"
"       promlet debug parse [--openmetrics] FILE|-\n"
"       promlet debug relabel -c FILE (--job NAME [--target] |\n"
"                             --remote-write NAME) 'metric{a=\"1\"}'\n"
"\n"
"Scrape Prometheus targets and forward the samples over remote write.\n"
"\n"
"flags:\n"
"  --config.file=PATH          configuration file (default: promlet.yml)\n"
"  --storage.agent.path=DIR    write-ahead log directory (default: data-agent/)\n"
"  --web.listen-address=ADDR   address for /metrics and the API (default: 0.0.0.0:9099)\n"
"  --log.level=LEVEL           debug, info, warn or error (default: info)\n"
"  --log.format=FORMAT         logfmt or json (default: logfmt)\n"
"  --version                   print the version and exit\n"
"  --help                      print this help and exit\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config.file", required_argument, NULL, 'c' },
		{ "storage.agent.path", required_argument, NULL, 's' },
		{ "web.listen-address", required_argument, NULL, 'l' },
		{ "log.level", required_argument, NULL, 'L' },
		{ "log.format", required_argument, NULL, 'F' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct main_flags fl = {
		"promlet.yml", "data-agent/", "0.0.0.0:9099", "info", "logfmt"
	};
	enum log_level level;
	enum log_format format;
	int ch;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': fl.config_file = optarg; break;
		case 's': fl.storage_path = optarg; break;
		case 'l': fl.listen_address = optarg; break;
		case 'L': fl.log_level = optarg; break;
		case 'F': fl.log_format = optarg; break;
		case 'V':
			printf("promlet, version %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			main_usage(stdout);
			return 0;
		default:
			main_usage(stderr);
			return 2;
		}
	}
	if (log_parse_level(fl.log_level, &level) == -1) {
		fprintf(stderr, "promlet: --log.level: unknown level \"%s\"\n",
		    fl.log_level);
		return 2;
	}
	if (log_parse_format(fl.log_format, &format) == -1) {
		fprintf(stderr, "promlet: --log.format: unknown format \"%s\"\n",
		    fl.log_format);
		return 2;
	}
	log_setup(level, format);
	log_info("starting promlet", "version=%s config=%s", PACKAGE_VERSION,
	    fl.config_file);
	return 0;
}
