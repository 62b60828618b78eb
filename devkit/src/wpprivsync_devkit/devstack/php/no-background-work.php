<?php
/**
 * Plugin Name: wpprivsync devstack without background work
 * Description: Nothing changes a test site behind the tests' back: WP-Cron is off in wp-config.php, and this stops Action Scheduler (WooCommerce) from starting its queue through loopback requests. Tests run queued actions themselves.
 */

defined( 'ABSPATH' ) || exit;

add_filter( 'action_scheduler_allow_async_request_runner', '__return_false' );
