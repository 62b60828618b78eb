<?php
/**
 * Plugin Name: wpprivsync devstack mail catcher
 * Description: Test sites send no mail: each message is appended as one JSON line to the file named by WPPRIVSYNC_DEVSTACK_MAIL_LOG.
 */

defined( 'ABSPATH' ) || exit;

add_filter(
	'pre_wp_mail',
	static function ( $short_circuit, $atts ) {
		if ( defined( 'WPPRIVSYNC_DEVSTACK_MAIL_LOG' ) && WPPRIVSYNC_DEVSTACK_MAIL_LOG ) {
			$to   = is_array( $atts['to'] ) ? $atts['to'] : explode( ',', (string) $atts['to'] );
			$line = wp_json_encode(
				array(
					'to'      => array_values( array_map( 'trim', $to ) ),
					'subject' => (string) $atts['subject'],
					'message' => (string) $atts['message'],
					'headers' => $atts['headers'],
					'time'    => gmdate( 'c' ),
				)
			);
			file_put_contents( WPPRIVSYNC_DEVSTACK_MAIL_LOG, $line . "\n", FILE_APPEND | LOCK_EX );
		}
		return true; // reported as sent; nothing leaves the machine
	},
	10,
	2
);
