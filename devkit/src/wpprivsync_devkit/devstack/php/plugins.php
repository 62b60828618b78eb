<?php
/**
 * Plugin activation by directory name, shared by setup.php and run.php snippets.
 */

/**
 * Finds the main file (relative to the plugins directory) of the plugin in directory $slug;
 * a full "dir/file.php" is accepted as is.
 *
 * @return string|WP_Error
 */
function wpprivsync_devstack_plugin_file( string $slug ) {
	if ( str_ends_with( $slug, '.php' ) ) {
		return $slug;
	}
	wp_cache_delete( 'plugins', 'plugins' );
	$found = get_plugins( '/' . $slug );
	if ( ! $found ) {
		return new WP_Error( 'plugin_not_found', "no plugin in directory {$slug}" );
	}
	$files = array_keys( $found );
	if ( isset( $found[ $slug . '.php' ] ) ) {
		return $slug . '/' . $slug . '.php';
	}
	return $slug . '/' . $files[0];
}

/**
 * Activates the plugin in directory $slug (running its activation hook) and, for
 * WooCommerce, makes sure its tables exist.
 *
 * @return string|WP_Error the plugin file
 */
function wpprivsync_devstack_activate( string $slug ) {
	$file = wpprivsync_devstack_plugin_file( $slug );
	if ( is_wp_error( $file ) ) {
		return $file;
	}
	$result = activate_plugin( $file, '', false, false );
	if ( is_wp_error( $result ) ) {
		return $result;
	}
	if ( 'woocommerce/woocommerce.php' === $file && class_exists( 'WC_Install' ) ) {
		global $wpdb;
		$table = $wpdb->prefix . 'woocommerce_order_items';
		if ( $wpdb->get_var( $wpdb->prepare( 'SHOW TABLES LIKE %s', $table ) ) !== $table ) {
			WC_Install::install();
		}
	}
	return $file;
}

/**
 * Deactivates the plugin in directory $slug (running its deactivation hook).
 *
 * @return string|WP_Error the plugin file
 */
function wpprivsync_devstack_deactivate( string $slug ) {
	$file = wpprivsync_devstack_plugin_file( $slug );
	if ( is_wp_error( $file ) ) {
		return $file;
	}
	deactivate_plugins( $file, false, false );
	return $file;
}
