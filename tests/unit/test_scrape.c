/* Unit tests for the scrape scheduler's step count (scrape.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "scrape.h"

#define PHASES	20	/* steps of an interval, as scrape.c has them */
#define PER	10	/* targets a step should get */

static int
divides_phases(unsigned d)
{
	return d >= 1 && d <= PHASES && PHASES % d == 0;
}

/* A new job: the most steps that still get PER targets each. */
static void
test_new_job(void **state)
{
	size_t n;
	unsigned d, e;

	(void)state;
	assert_int_equal(scrape_steps(0, 0), 1);
	assert_int_equal(scrape_steps(1, 0), 1);
	assert_int_equal(scrape_steps(19, 0), 1);
	assert_int_equal(scrape_steps(20, 0), 2);
	assert_int_equal(scrape_steps(30, 0), 2);
	assert_int_equal(scrape_steps(40, 0), 4);
	assert_int_equal(scrape_steps(60, 0), 5);
	assert_int_equal(scrape_steps(100, 0), 10);
	assert_int_equal(scrape_steps(200, 0), PHASES);
	assert_int_equal(scrape_steps(100000, 0), PHASES);
	for (n = 0; n < 300; n++) {
		d = scrape_steps(n, 0);
		assert_true(divides_phases(d));
		assert_true(d == 1 || n >= (size_t)d * PER);
		for (e = d + 1; e <= PHASES; e++)
			assert_false(divides_phases(e) && n >= (size_t)e * PER);
	}
}

/*
 * A running job: it takes more steps as soon as it has the targets for
 * them, fewer only once half the targets its steps need are gone.
 */
static void
test_running_job(void **state)
{
	static const unsigned cur[] = { 1, 2, 4, 5, 10, 20 };
	size_t n, i;
	unsigned d, want;

	(void)state;
	for (i = 0; i < sizeof cur / sizeof cur[0]; i++) {
		for (n = 0; n < 300; n++) {
			d = scrape_steps(n, cur[i]);
			want = scrape_steps(n, 0);
			assert_true(divides_phases(d));
			if (want >= cur[i] || n * 2 < (size_t)cur[i] * PER)
				assert_int_equal(d, want);
			else
				assert_int_equal(d, cur[i]);
		}
	}
	assert_int_equal(scrape_steps(199, 20), 20);
	assert_int_equal(scrape_steps(100, 20), 20);
	assert_int_equal(scrape_steps(99, 20), 5);
}

/* A target coming and going at any size moves the others at most once. */
static void
test_no_flapping(void **state)
{
	size_t n, k;
	unsigned d, changes;

	(void)state;
	for (n = 1; n < 300; n++) {
		d = scrape_steps(n, 0);
		changes = 0;
		for (k = 0; k < 10; k++) {
			unsigned e = scrape_steps(n + (k % 2 == 0), d);

			changes += e != d;
			d = e;
		}
		assert_true(changes <= 1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_job),
		cmocka_unit_test(test_running_job),
		cmocka_unit_test(test_no_flapping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
